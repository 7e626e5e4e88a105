// One function per subcommand: each adds its flags to the app and a callback that runs it.
// Callbacks throw on error; only main() catches.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "common/limits.h"

namespace electra::cli {

// --stop-after N: a step number >= 1. 0 would read as "no stop" downstream and run the whole schedule.
inline CLI::Validator step_number() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        std::size_t used = 0;
        long long step = 0;
        try {
          step = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != value.size() || used == 0) return "not a whole number: " + value;
        if (step < 1) return "a step number is at least 1, got " + value;
        return {};
      },
      "STEP>=1");
}

// A whole-number flag of at most `limit` (common/limits.h), checked as the command line is read: CLI11 names the
// flag ("--batch-size: 1000000000 is above the limit 65536 (docs/limits.md)"). Text that is not a whole number is
// left to the flag's own conversion, which refuses it.
inline CLI::Validator at_most(int64_t limit) {
  return CLI::Validator(
      [limit](std::string& value) -> std::string {
        std::size_t used = 0;
        long long number = 0;
        try {
          number = std::stoll(value, &used);
        } catch (const std::out_of_range&) {
          return value + " is " + limits::above(limit);
        } catch (const std::exception&) {
          return {};
        }
        if (used == value.size() && number > limit) return value + " is " + limits::above(limit);
        return {};
      },
      "<=" + std::to_string(limit));
}

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
