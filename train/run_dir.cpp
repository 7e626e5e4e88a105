#include "train/run_dir.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "common/files.h"
#include "common/files.h"
#include "model/runtime.h"

namespace electra {

namespace fs = std::filesystem;
using nlohmann::json;

RunDirectory::RunDirectory(fs::path dir) : dir_(std::move(dir)) {}

void RunDirectory::open(const std::string& config_yaml, bool resume) {
  std::error_code ec;
  fs::create_directories(state_dir(), ec);
  if (ec) {
    throw std::runtime_error(fmt::format("cannot create the run folder {}: {}; choose another output_dir "
                                         "(--output-dir)",
                                         state_dir().string(), ec.message()));
  }
  check_writable(dir_);
  if (!resume && fs::exists(state_file())) {
    throw std::invalid_argument(fmt::format("{} already holds a run; resume it with --resume {} or choose another "
                                            "output_dir",
                                            dir_.string(), dir_.string()));
  }
  write_file_atomic(dir_ / "config.yaml", config_yaml);
}

void RunDirectory::check_space(uint64_t state_bytes, std::string_view weights) const {
  check_free_space(dir_, 2 * state_bytes + state_bytes / 3, fmt::format("two training states and {}", weights));
}

void RunDirectory::clear_outputs() const {
  std::error_code ec;
  fs::remove(metrics_file(), ec);
  remove_tree(best_dir());
}

void RunDirectory::truncate_metrics(int64_t step) const {
  const fs::path file = metrics_file();
  if (!fs::exists(file)) return;
  std::istringstream in(read_file(file));
  std::string kept, line;
  while (std::getline(in, line)) {
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
    // The test split is scored only when the run finishes (again, after this resume).
    if (j.value("split", "") == "test") continue;
    if (j["step"].get<int64_t>() <= step) kept += line + "\n";
  }
  write_file_atomic(file, kept);
}

void RunDirectory::append_metrics(const json& line) const {
  const fs::path file = metrics_file();
  std::ofstream out(file, std::ios::app);
  out << line.dump() << "\n";
  if (!out) throw std::runtime_error(fmt::format("cannot write {}", file.string()));
}

void RunDirectory::write_predictions(const std::string& file_name, const std::vector<std::string>& predictions) const {
  electra::write_predictions(dir_ / file_name, predictions);
}

void RunDirectory::write_results(const json& results) const {
  write_file_atomic(dir_ / "results.json", results.dump(2) + "\n");
}

bool RunDirectory::finished() const { return fs::exists(dir_ / "results.json"); }

fs::path training_run_marker(const fs::path& dir) {
  // config.yaml: an experiment of several seeds holds it (and seed-N/ folders) before its summary.json.
  for (const char* name : {"state", "metrics.jsonl", "summary.json", "config.yaml"}) {
    if (fs::exists(dir / name)) return dir / name;
  }
  const fs::path results = dir / "results.json";
  if (fs::exists(results)) {
    // The trainer's results.json records its steps; electra eval's does not.
    const json r = json::parse(read_file(results), nullptr, false);
    if (r.is_discarded() || !r.is_object() || r.contains("steps")) return results;
  }
  return {};
}

void write_predictions(const fs::path& file, const std::vector<std::string>& predictions) {
  std::string text;
  for (const auto& p : predictions) text += p + "\n";
  write_file_atomic(file, text);
}

json metrics_json(const Metrics& metrics) {
  json j = json::object();
  for (const auto& [k, v] : metrics) j[k] = v;
  return j;
}

json versions_json() { return {{"electra", ELECTRA_VERSION}, {"libtorch", libtorch_version()}}; }

}  // namespace electra
