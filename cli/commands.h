// One function per subcommand: each adds its flags to the app and a callback that runs it.
// Callbacks throw on error; only main() catches.
#pragma once

#include <CLI/CLI.hpp>

namespace electra::cli {

void add_version_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_tasks_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_download_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_finetune_command(CLI::App& app);
void add_init_command(CLI::App& app);
void add_vocab_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);

}  // namespace electra::cli
