/* Stand-in for `vcurate shard` until src/cli/main.c dispatches to it:
 * shard_driver ARGS... == vcurate shard ARGS... (used by the e2e checks and
 * bench/shard/bench_shard.sh). */
#include "cli/shard_cmd.h"

int main(int argc, char **argv)
{
    argv[0] = "shard";
    return vc_cmd_shard(argc, argv);
}
