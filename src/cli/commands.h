/* The subcommands. Each returns the process exit status. */
#ifndef VC_CLI_COMMANDS_H
#define VC_CLI_COMMANDS_H

int vc_cmd_split(int argc, char **argv);
int vc_cmd_detect(int argc, char **argv);
int vc_cmd_models(int argc, char **argv);  /* models_cmd.c */
int vc_cmd_embed(int argc, char **argv);   /* embed_cmd.c */

#endif
