// One function per subcommand: each adds its flags to the app and a callback that runs it.
// Callbacks throw on error; only main() catches.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <type_traits>

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

// A number flag in [least, limit] (common/limits.h), checked as the command line is read: CLI11 names the flag
// ("--batch-size: 1000000000 is above the limit 65536 (docs/limits.md)", "--batch-size: 0 is below 1"). Text that
// is not a number of the limit's kind is left to the flag's own conversion, which refuses it.
template <typename T>
CLI::Validator within(T least, T limit) {
  static_assert(std::is_same_v<T, int64_t> || std::is_same_v<T, double>);
  return CLI::Validator(
      [least, limit](std::string& value) -> std::string {
        // strtod and strtoll saturate out of range (HUGE_VAL, LLONG_MAX), so 1e400 is above any limit.
        char* end = nullptr;
        T number = 0;
        if constexpr (std::is_same_v<T, double>) {
          number = std::strtod(value.c_str(), &end);
        } else {
          number = std::strtoll(value.c_str(), &end, 10);
        }
        if (value.empty() || end != value.c_str() + value.size()) return {};
        if (number > limit) return value + " is " + limits::above(limit);
        if (number < least) return fmt::format("{} is below {}", value, least);
        return {};
      },
      fmt::format("{}..{}", least, limit));
}
// At most `limit`; the flag's other checks say what is too small.
template <typename T>
CLI::Validator at_most(T limit) {
  return within(std::numeric_limits<T>::lowest(), limit);
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
