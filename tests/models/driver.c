/* `vcurate models` without the rest of vcurate, for the tests:
 * models_driver list|download|verify ... */
#include "cli/commands.h"
#include "pipeline/cancel.h"

int main(int argc, char **argv)
{
    vc_cancel_install(0, 0);
    return vc_cmd_models(argc, argv);
}
