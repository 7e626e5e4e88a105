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
#include "common/stop_signal.h"
#include "hub/data.h"
#include "hub/hub.h"
#include "leaderboard/leaderboard.h"
#include "tasks/task.h"
#include "train/model_eval.h"
#include "train/run_dir.h"

namespace electra::cli {
namespace {

struct LeaderboardArgs {
  std::string leaderboard;             // name (korean, glue) or a leaderboard .yaml
  std::vector<std::string> run_dirs;   // searched recursively for results.json
  std::string format;                  // empty: from --output's extension, else markdown
  std::string output;                  // empty: stdout
  std::string compare;                 // published row to diff our rows against
  int64_t bootstrap = 1000;            // resamples of the test examples per cell; 0: no intervals
  uint64_t bootstrap_seed = 0;
  std::vector<std::string> paired;     // run directories to compare ours with, paired on the same resamples
};

struct ModelArgs {
  std::string model;       // fine-tuned checkpoint directory (or hub id)
  std::string task;
  std::string split = "dev";
  std::string data_dir;    // folder with the task's files; empty: the hub's data folder for the task
  std::string output_dir;  // empty: print only
  int64_t max_seq_length = 0;  // 0: 512 for span extraction, else 128
  int64_t batch_size = 64;
  std::string device = "auto";
  bool offline = false;  // download nothing
};

struct EvalArgs {
  LeaderboardArgs board;
  ModelArgs model;
};

void run_leaderboard(const LeaderboardArgs& args) {
  const auto spec = find_leaderboard_spec(args.leaderboard);
  const std::vector<std::filesystem::path> dirs(args.run_dirs.begin(), args.run_dirs.end());
  const auto runs = dirs.empty() ? std::vector<RunResult>{} : collect_results(dirs);
  LeaderboardOptions options;
  options.compare = args.compare;
  options.bootstrap = args.bootstrap;
  options.bootstrap_seed = args.bootstrap_seed;
  if (!args.paired.empty())
    options.paired = collect_results(std::vector<std::filesystem::path>(args.paired.begin(), args.paired.end()));
  const auto table = build_leaderboard(spec, runs, options);
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

// A training run's folder is never written into: its results.json is the run's row on the leaderboard (with its seed,
// steps and selection), and its predictions files are the run's. Refusing, as `git clone` refuses a non-empty folder,
// loses nothing and costs one flag; writing beside it would put the scores where nobody asked.
void check_eval_output_dir(const std::filesystem::path& dir, const std::string& task, const std::string& split) {
  const std::filesystem::path marker = training_run_marker(dir);
  if (marker.empty()) return;
  throw std::invalid_argument(fmt::format(
      "--output-dir {} holds a fine-tuning run ({}); electra eval does not write into it, so that the run's "
      "results.json and predictions stay as training wrote them: choose another folder, e.g. --output-dir {}",
      dir.string(), marker.string(), (dir / fmt::format("eval-{}-{}", task, split)).string()));
}

void run_model_eval(const ModelArgs& args) {
  const Task& task = find_task(args.task);
  install_stop_handlers();  // a signal stops the evaluation before its next batch; nothing is written then
  // Checked before the model is loaded or scored: the refusal costs nothing.
  if (!args.output_dir.empty()) check_eval_output_dir(args.output_dir, task.name(), args.split);
  ModelEvalOptions options;
  options.model = args.model;
  HubOptions hub = HubOptions::from_environment();
  if (args.offline) hub.offline = true;
  options.model_dir = resolve_model(args.model, hub);
  DataOptions data;
  data.offline = args.offline;
  options.split = args.split;
  options.data.data_dir = args.data_dir.empty()
                              ? ensure_task_data(task.name(), default_data_dir(), data).dir.string()
                              : args.data_dir;
  options.data.max_seq_length =
      args.max_seq_length > 0 ? args.max_seq_length : (task.head() == HeadKind::span_extraction ? 512 : 128);
  options.batch_size = args.batch_size;
  options.device = args.device;
  const ModelEvalOutcome outcome = evaluate_model(task, options);
  if (outcome.stopped_by != 0) {
    throw StoppedBySignal(outcome.stopped_by,
                          fmt::format("stopped by {} while evaluating {} on {} {}; nothing was written; rerun the "
                                      "same command",
                                      signal_name(outcome.stopped_by), args.model, task.name(), args.split));
  }
  for (const auto& w : outcome.warnings) fmt::print(stderr, "warning: {}\n", w);
  fmt::print("{} {} ({}):", task.name(), args.split, args.model);
  for (const auto& [name, value] : outcome.metrics) {
    if (name != "main") fmt::print(" {} {:.2f}", name, value);
  }
  fmt::print("\n");
  if (!args.output_dir.empty()) {
    const std::filesystem::path dir = args.output_dir;
    write_file_atomic(dir / "results.json", outcome.results_json);
    write_predictions(dir / fmt::format("predictions_{}.txt", args.split), outcome.predictions);
    fmt::print("wrote {}\n", (dir / "results.json").string());
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Score models: one fine-tuned model on a task (--model/--task), or a leaderboard from run directories");
  auto args = std::make_shared<EvalArgs>();
  cmd->add_option("--leaderboard", args->board.leaderboard,
                  "Render the leaderboard korean|glue (or a leaderboard .yaml) from the RUN_DIRs' results.json files");
  cmd->add_option("run_dirs", args->board.run_dirs, "Run directories (searched recursively) or results.json files");
  cmd->add_option("--format", args->board.format, "markdown|csv|json|text|html (default: from --output, else markdown)")
      ->check(CLI::IsMember({"markdown", "md", "csv", "json", "text", "txt", "html"}));
  cmd->add_option("--output", args->board.output, "Write the leaderboard to FILE instead of stdout");
  cmd->add_option("--compare", args->board.compare,
                  "Show our rows' difference to this published row; verdicts judge against it (default: the published "
                  "row of our row's name)");
  cmd->add_option("--bootstrap", args->board.bootstrap,
                  "Resamples of the test examples behind each cell's interval and verdict (default 1000; 0: none)")
      ->check(within(int64_t{0}, limits::kResamples));
  cmd->add_option("--bootstrap-seed", args->board.bootstrap_seed, "Seed of the bootstrap resamples (default 0)");
  cmd->add_option("--paired", args->board.paired,
                  "Run directories of another set of runs (e.g. the old recipe): paired bootstrap of ours minus "
                  "theirs per column, on the same test examples")
      ->expected(1, -1);
  cmd->add_option("--model", args->model.model, "Score this fine-tuned model (directory or hub id) on --task");
  cmd->add_option("--task", args->model.task, "Task to score --model on (electra tasks lists them)");
  cmd->add_option("--split", args->model.split, "dev | test (default dev)")->check(CLI::IsMember({"dev", "test"}));
  cmd->add_option("--data-dir", args->model.data_dir, "Folder with the task's upstream files (default: downloaded)");
  cmd->add_option("--output-dir", args->model.output_dir, "Write results.json and predictions_<split>.txt here");
  cmd->add_option("--max-seq-length", args->model.max_seq_length, "Tokens per input (default 128, 512 for QA)")
      ->check(within(int64_t{1}, limits::kSequenceLength));
  cmd->add_option("--batch-size", args->model.batch_size, "Evaluation batch size")
      ->check(within(int64_t{1}, limits::kBatchSize));
  cmd->add_option("--device", args->model.device, "cpu | cuda | auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  cmd->add_flag("--offline", args->model.offline, "Download nothing: model from the hub cache, data from the data folder");
  cmd->callback([args] {
    if (!args->board.leaderboard.empty() && !args->model.model.empty()) {
      throw std::invalid_argument("electra eval: give either --leaderboard or --model, not both");
    }
    if (!args->board.leaderboard.empty()) return run_leaderboard(args->board);
    if (!args->model.model.empty() || !args->model.task.empty()) {
      if (args->model.model.empty() || args->model.task.empty()) {
        throw std::invalid_argument("electra eval: --model DIR and --task T go together");
      }
      return run_model_eval(args->model);
    }
    throw std::invalid_argument(
        "electra eval: nothing to do: give --leaderboard korean|glue RUN_DIR... [--format markdown|csv|json|text|html] "
        "[--output FILE] [--compare NAME] [--bootstrap N] [--paired RUN_DIR...], or --model DIR --task T [--split dev|test] [--data-dir DIR]");
  });
}

}  // namespace electra::cli
