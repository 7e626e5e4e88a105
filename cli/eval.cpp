// `electra eval`: scoring. Two modes share the subcommand:
//   --leaderboard korean|glue RUN_DIR...  renders a benchmark table from run directories' results.json files;
//   --model DIR --task T                  scores one fine-tuned model (the trainer's mode).
// Each mode has its own argument struct and run function; the callback picks the mode from the flags given.
#include <fmt/core.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/files.h"
#include "leaderboard/leaderboard.h"

namespace electra::cli {
namespace {

struct LeaderboardArgs {
  std::string leaderboard;             // name (korean, glue) or a leaderboard .yaml
  std::vector<std::string> run_dirs;   // searched recursively for results.json
  std::string format;                  // empty: from --output's extension, else markdown
  std::string output;                  // empty: stdout
  std::string compare;                 // published row to diff our rows against
};

struct EvalArgs {
  LeaderboardArgs board;
};

void run_leaderboard(const LeaderboardArgs& args) {
  const auto spec = find_leaderboard_spec(args.leaderboard);
  const std::vector<std::filesystem::path> dirs(args.run_dirs.begin(), args.run_dirs.end());
  const auto runs = dirs.empty() ? std::vector<RunResult>{} : collect_results(dirs);
  const auto table = build_leaderboard(spec, runs, LeaderboardOptions{args.compare});
  auto format = LeaderboardFormat::markdown;
  if (!args.format.empty())
    format = parse_leaderboard_format(args.format);
  else if (const auto by_extension = args.output.empty() ? std::nullopt : leaderboard_format_for(args.output))
    format = *by_extension;
  for (const auto& note : table.notes) fmt::print(stderr, "electra: note: {}\n", note);
  const auto text = render_leaderboard(table, format);
  if (args.output.empty()) {
    fmt::print("{}", text);
    std::fflush(stdout);
    return;
  }
  write_file_atomic(args.output, text);
  fmt::print(stderr, "electra: wrote {} ({} runs, {} rows)\n", args.output, runs.size(), table.rows.size());
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Score models: render a benchmark leaderboard from run directories");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("--leaderboard", args->board.leaderboard,
                  "Render the leaderboard korean|glue (or a leaderboard .yaml) from the RUN_DIRs' results.json files");
  cmd->add_option("run_dirs", args->board.run_dirs, "Run directories (searched recursively) or results.json files");
  cmd->add_option("--format", args->board.format, "markdown|csv|json|text|html (default: from --output, else markdown)")
      ->check(CLI::IsMember({"markdown", "md", "csv", "json", "text", "txt", "html"}));
  cmd->add_option("--output", args->board.output, "Write the leaderboard to FILE instead of stdout");
  cmd->add_option("--compare", args->board.compare, "Show our rows' difference to this published row");
  cmd->callback([args] {
    if (!args->board.leaderboard.empty()) return run_leaderboard(args->board);
    throw std::invalid_argument(
        "electra eval: nothing to do: give --leaderboard korean|glue RUN_DIR... [--format markdown|csv|json|text|html] "
        "[--output FILE] [--compare NAME]");
  });
}

}  // namespace electra::cli
