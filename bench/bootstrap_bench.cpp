// Bootstrap intervals on a real-sized test set: the time of N resamples of every metric of a task (default: NSMC's
// 50,000 test reviews, 1,000 resamples; the budget is 5 s).
//   bootstrap_bench [--task nsmc] [--gold FILE] [--predictions FILE] [--resamples 1000] [--seed 0]
// Without --predictions, seeded predictions right on 85 % of the examples (any label task). Prints one line per
// metric and the seconds of reading, of the resampling form and of the resamples.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "leaderboard/resampling.h"
#include "metrics/bootstrap.h"
#include "tasks/scoring.h"
#include "tasks/text_file.h"
#include "common/source_dir.h"

namespace {

struct Args {
  std::string task = "nsmc";
  std::string gold = std::string(electra::source_dir()) + "/../shared/real-data/nsmc/ratings_test.txt";
  std::string predictions;
  int64_t resamples = 1000;
  uint64_t seed = 0;
};

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--task") args.task = value;
    else if (flag == "--gold") args.gold = value;
    else if (flag == "--predictions") args.predictions = value;
    else if (flag == "--resamples") args.resamples = std::stoll(value);
    else if (flag == "--seed") args.seed = std::stoull(value);
    else throw std::invalid_argument("unknown flag " + flag + " (known: --task --gold --predictions --resamples --seed)");
  }
  return args;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace electra;
  const Args args = parse_args(argc, argv);
  const Task& task = find_task(args.task);
  auto t0 = std::chrono::steady_clock::now();
  if (!std::filesystem::exists(args.gold)) throw std::runtime_error(args.gold + ": no such file (give --gold FILE)");
  const auto examples = task.read(args.gold, ReadOptions{}).examples;
  std::vector<std::optional<std::string>> predictions;
  if (!args.predictions.empty()) {
    for (auto& line : parse_prediction_lines(read_text_file(args.predictions), args.predictions)) predictions.emplace_back(line);
  } else {
    const auto labels = task.labels();
    if (labels.empty()) throw std::invalid_argument("--predictions is needed for a task without labels");
    std::mt19937_64 rng(args.seed);
    std::bernoulli_distribution right(0.85);
    std::uniform_int_distribution<size_t> any(0, labels.size() - 1);
    for (const auto& ex : examples) predictions.emplace_back(right(rng) ? ex.label : labels[any(rng)]);
  }
  const double read_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto metrics = task_resampled_metrics(task, examples, predictions);
  const double form_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const auto intervals = metrics::bootstrap_intervals(*metrics, metrics::BootstrapOptions{args.resamples, args.seed, 0.95});
  const double bootstrap_s = seconds_since(t0);
  for (const auto& m : intervals)
    fmt::print("{} {} {:.4f} [{:.4f}, {:.4f}]\n", args.task, m.name, m.value, m.interval.low, m.interval.high);
  fmt::print("units {} resamples {}: read {:.2f} s, resampling form {:.3f} s, bootstrap {:.3f} s ({:.2f} ms per resample)\n",
             metrics->units(), args.resamples, read_s, form_s, bootstrap_s, 1000.0 * bootstrap_s / static_cast<double>(args.resamples));
  return 0;
} catch (const std::exception& e) {
  fmt::print(stderr, "bootstrap_bench: error: {}\n", e.what());
  return 1;
}
