#include "leaderboard/results.h"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <stdexcept>

#include "common/files.h"
#include "metrics/metric_names.h"

namespace electra {
namespace {

using nlohmann::json;

std::string describe(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Equal, or both undefined (NaN).
bool same_value(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool same_metrics(const SplitMetrics& a, const SplitMetrics& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, value] : a) {
    const auto it = b.find(name);
    if (it == b.end() || !same_value(value, it->second)) return false;
  }
  return true;
}

// Reads one run object; `where` is the key prefix ("" or "runs[2].") for messages.
class RunReader {
 public:
  RunReader(const std::filesystem::path& file, std::string prefix) : file_(file), prefix_(std::move(prefix)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw std::runtime_error(fmt::format("{}: key '{}{}': {}", file_.string(), prefix_, key, what));
  }

  const json& require(const json& object, const std::string& key) const {
    auto it = object.find(key);
    if (it == object.end()) fail(key, "missing");
    return *it;
  }

  std::string string_at(const json& value, const std::string& key) const {
    if (!value.is_string()) fail(key, fmt::format("expected a string, got {}", describe(value)));
    const auto text = value.get<std::string>();
    if (text.empty()) fail(key, "expected a non-empty string");
    return text;
  }

  int64_t integer_at(const json& value, const std::string& key) const {
    if (!value.is_number_integer()) fail(key, fmt::format("expected an integer, got {}", describe(value)));
    return value.get<int64_t>();
  }

  double number_at(const json& value, const std::string& key) const {
    if (!value.is_number()) fail(key, fmt::format("expected a number, got {}", describe(value)));
    const double x = value.get<double>();
    if (!std::isfinite(x)) fail(key, fmt::format("expected a finite number, got {}", describe(value)));
    return x;
  }

  SplitMetrics metrics_at(const json& value, const std::string& key) const {
    if (!value.is_object()) fail(key, fmt::format("expected an object of numbers, got {}", describe(value)));
    SplitMetrics metrics;
    for (const auto& [name, x] : value.items()) {
      // null: a correlation that is undefined (NaN: constant predictions or gold scores), as electra writes it.
      if (x.is_null() && (name == "pearson" || name == "spearman" || name == "main")) {
        metrics[name] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      metrics[name] = number_at(x, key + "." + name);
      // Every metric is x100: a value outside its range is a broken or hand-edited file, not a score.
      if (const auto range = metrics::metric_range(name);
          range && (metrics[name] < range->low || metrics[name] > range->high))
        fail(key + "." + name, fmt::format("{} is outside {}'s range [{}, {}] (scores are x100)", describe(x), name,
                                           range->low, range->high));
    }
    if (!metrics.count("main")) fail(key + ".main", "missing (every metrics object holds \"main\")");
    return metrics;
  }

  std::string split_at(const json& value, const std::string& key) const {
    const auto split = string_at(value, key);
    if (split != "dev" && split != "test") fail(key, fmt::format("expected \"dev\" or \"test\", got {}", describe(value)));
    return split;
  }

  RunResult read(const json& object) const {
    if (!object.is_object()) fail("", fmt::format("expected a JSON object, got {}", describe(object)));
    RunResult run;
    run.file = file_;
    if (auto it = object.find("schema_version"); it != object.end()) {
      const auto version = integer_at(*it, "schema_version");
      if (version != kResultsSchemaVersion)
        fail("schema_version", fmt::format("unsupported version {} (this electra reads {})", version, kResultsSchemaVersion));
    }
    run.task = string_at(require(object, "task"), "task");
    run.model = string_at(require(object, "model"), "model");
    if (auto it = object.find("model_name"); it != object.end()) run.model_name = string_at(*it, "model_name");
    if (auto it = object.find("params"); it != object.end()) {
      run.params = integer_at(*it, "params");
      if (*run.params <= 0) fail("params", fmt::format("expected a positive count, got {}", *run.params));
    }
    run.seed = integer_at(require(object, "seed"), "seed");
    run.split = split_at(require(object, "split"), "split");
    run.metrics = metrics_at(require(object, "metrics"), "metrics");
    run.main_metric = string_at(require(object, "main_metric"), "main_metric");
    const auto main_it = run.metrics.find(run.main_metric);
    if (main_it == run.metrics.end())
      fail("main_metric", fmt::format("\"{}\" is not a key of metrics", run.main_metric));
    if (std::isnan(run.metrics.at("main")) && !std::isnan(main_it->second))
      fail("metrics.main", "expected a number, got null");
    if (!same_value(main_it->second, run.metrics.at("main")))
      fail("metrics.main", fmt::format("{} differs from metrics.{} = {}", run.metrics.at("main"), run.main_metric,
                                       main_it->second));
    if (auto it = object.find("split_metrics"); it != object.end()) {
      if (!it->is_object()) fail("split_metrics", fmt::format("expected an object, got {}", describe(*it)));
      for (const auto& [split, metrics] : it->items()) {
        const std::string key = "split_metrics." + split;
        if (split != "dev" && split != "test") fail(key, "split must be \"dev\" or \"test\"");
        run.split_metrics[split] = metrics_at(metrics, key);
      }
      const auto same = run.split_metrics.find(run.split);
      if (same != run.split_metrics.end() && !same_metrics(same->second, run.metrics))
        fail("split_metrics." + run.split, "differs from metrics (both are the metrics of split \"" + run.split + "\")");
    }
    if (auto it = object.find("steps"); it != object.end()) run.steps = integer_at(*it, "steps");
    if (auto it = object.find("wall_time_s"); it != object.end()) run.wall_time_s = number_at(*it, "wall_time_s");
    if (auto it = object.find("throughput"); it != object.end()) {
      if (!it->is_object()) fail("throughput", fmt::format("expected an object of numbers, got {}", describe(*it)));
      for (const auto& [name, x] : it->items()) run.throughput[name] = number_at(x, "throughput." + name);
    }
    if (auto it = object.find("versions"); it != object.end()) {
      if (!it->is_object()) fail("versions", fmt::format("expected an object of strings, got {}", describe(*it)));
      for (const auto& [name, x] : it->items()) run.versions[name] = string_at(x, "versions." + name);
    }
    return run;
  }

 private:
  const std::filesystem::path& file_;
  std::string prefix_;
};

nlohmann::ordered_json run_to_json(const RunResult& run) {
  nlohmann::ordered_json j;
  j["schema_version"] = kResultsSchemaVersion;
  j["task"] = run.task;
  j["model"] = run.model;
  if (!run.model_name.empty()) j["model_name"] = run.model_name;
  if (run.params) j["params"] = *run.params;
  j["seed"] = run.seed;
  j["split"] = run.split;
  j["metrics"] = run.metrics;
  j["main_metric"] = run.main_metric;
  if (!run.split_metrics.empty()) j["split_metrics"] = run.split_metrics;
  if (run.steps) j["steps"] = *run.steps;
  if (run.wall_time_s) j["wall_time_s"] = *run.wall_time_s;
  if (!run.throughput.empty()) j["throughput"] = run.throughput;
  if (!run.versions.empty()) j["versions"] = run.versions;
  return j;
}

}  // namespace

const SplitMetrics* RunResult::metrics_for(const std::string& split_name) const {
  if (split_name == split) return &metrics;
  const auto it = split_metrics.find(split_name);
  return it == split_metrics.end() ? nullptr : &it->second;
}

std::vector<RunResult> parse_results(const std::string& text, const std::filesystem::path& file) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
  if (!document.is_object())
    throw std::runtime_error(fmt::format("{}: expected a JSON object, got {}", file.string(), describe(document)));
  std::vector<RunResult> runs;
  const auto runs_it = document.find("runs");
  if (runs_it == document.end()) {
    runs.push_back(RunReader(file, "").read(document));
    return runs;
  }
  if (!runs_it->is_array() || runs_it->empty())
    throw std::runtime_error(
        fmt::format("{}: key 'runs': expected a non-empty array of run objects, got {}", file.string(), describe(*runs_it)));
  for (size_t i = 0; i < runs_it->size(); ++i)
    runs.push_back(RunReader(file, fmt::format("runs[{}].", i)).read((*runs_it)[i]));
  return runs;
}

std::vector<RunResult> read_results_file(const std::filesystem::path& file) {
  return parse_results(read_file(file), file);
}

namespace {

// Every results.json below `dir`, into `found`. Links to folders are followed (a leaderboard folder of links to run
// folders is a common layout); a link that leads back into a folder being walked is an error naming it, and so is a
// folder that cannot be read or a link that leads nowhere: nothing below the root is passed over in silence.
void find_results_files(const std::filesystem::path& dir, std::vector<std::pair<dev_t, ino_t>>& walking,
                        std::vector<std::filesystem::path>& found) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    throw std::runtime_error(fmt::format("cannot read {}: {}", dir.string(), std::strerror(errno)));
  for (const auto& [dev, ino] : walking)
    if (dev == st.st_dev && ino == st.st_ino)
      throw std::runtime_error(fmt::format("{}: a symbolic link loop (it leads back to a folder that contains it)",
                                           dir.string()));
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw std::runtime_error(fmt::format("cannot read {}: {}", dir.string(), std::strerror(errno)));
  std::vector<std::filesystem::path> entries;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") entries.push_back(dir / name);
  }
  ::closedir(d);
  std::sort(entries.begin(), entries.end());
  walking.emplace_back(st.st_dev, st.st_ino);
  for (const auto& entry : entries) {
    struct stat es {};
    if (::stat(entry.c_str(), &es) != 0)
      throw std::runtime_error(fmt::format("cannot read {}: {}", entry.string(),
                                           errno == ENOENT ? "a symbolic link to nothing" : std::strerror(errno)));
    if (S_ISDIR(es.st_mode)) {
      find_results_files(entry, walking, found);
    } else if (entry.filename() == "results.json") {
      found.push_back(entry);
    }
  }
  walking.pop_back();
}

}  // namespace

std::vector<RunResult> collect_results(const std::vector<std::filesystem::path>& paths) {
  namespace fs = std::filesystem;
  std::vector<RunResult> runs;
  std::set<std::string> seen;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) throw std::runtime_error(fmt::format("{}: no such file or directory", path.string()));
    std::vector<fs::path> files;
    if (fs::is_directory(status)) {
      std::vector<std::pair<dev_t, ino_t>> walking;
      find_results_files(path, walking, files);
    } else {
      files.push_back(path);
    }
    if (files.empty()) throw std::runtime_error(fmt::format("{}: no results.json found under it", path.string()));
    for (const auto& file : files) {
      if (!seen.insert(fs::weakly_canonical(file).string()).second) continue;  // the same file named twice
      auto found = read_results_file(file);
      runs.insert(runs.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
    }
  }
  return runs;
}

std::string results_to_json(const RunResult& run) { return run_to_json(run).dump(2) + "\n"; }

std::string results_to_json(const std::vector<RunResult>& runs) {
  nlohmann::ordered_json j;
  j["runs"] = nlohmann::ordered_json::array();
  for (const auto& run : runs) j["runs"].push_back(run_to_json(run));
  return j.dump(2) + "\n";
}

void write_results_file(const std::filesystem::path& file, const RunResult& run) {
  write_file_atomic(file, results_to_json(run));
}

}  // namespace electra
