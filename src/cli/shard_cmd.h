/* `vcurate shard`: command-line front end of src/shard. */
#ifndef VC_CLI_SHARD_CMD_H
#define VC_CLI_SHARD_CMD_H

/* argv[0] is the command name ("shard"), options follow. Returns the process
 * exit status: 0 success, 1 failure, 2 usage error. Reentrant enough to be
 * called several times in one process (tests do). */
int vc_cmd_shard(int argc, char **argv);

#endif
