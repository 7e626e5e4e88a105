#include "train/run_dir.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

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

void RunDirectory::check_space(uint64_t state_bytes, std::string_view weights,
                               const std::vector<fs::path>& weight_dirs) const {
  // At the peak of a save: a new state beside the last, and new weights beside the old (a model folder is replaced
  // whole); the weights are about a third of a state (AdamW keeps two moments beside them). What the folder already
  // holds of these is counted as there: a resumed run needs only the rest.
  const uint64_t peak = 2 * state_bytes + 2 * (state_bytes / 3);
  uint64_t held = 0;
  std::vector<fs::path> dirs = weight_dirs.empty() ? std::vector<fs::path>{best_dir()} : weight_dirs;
  dirs.push_back(state_dir());
  for (const auto& d : dirs) {
    std::error_code ec;
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& file : list_files_recursive(d)) {
      const auto size = fs::file_size(file, ec);
      if (!ec) held += size;
    }
  }
  const uint64_t needed = peak > held ? peak - held : 0;
  check_free_space(dir_, needed,
                   held > 0 ? fmt::format("two training states and {}, beyond the {} bytes of them it holds already",
                                          weights, held)
                            : fmt::format("two training states and {}", weights));
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

namespace {

// "section.key" -> the value's YAML text, for every leaf of a mapping.
void flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& item : node) flatten(item.second, prefix + (prefix.empty() ? "" : ".") + item.first.Scalar(), out);
    return;
  }
  YAML::Emitter text;
  text << YAML::Flow << node;
  out[prefix] = text.c_str();
}

std::map<std::string, std::string> flat_config(const std::string& yaml_text, const std::string& what) {
  std::map<std::string, std::string> out;
  try {
    flatten(YAML::Load(yaml_text), "", out);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("{}: not valid YAML: {}", what, e.what()));
  }
  return out;
}

}  // namespace

bool holds_saved_run(const fs::path& dir) {
  if (fs::exists(RunDirectory(dir).state_file()) || fs::exists(dir / "summary.json")) return true;
  for (const auto& entry : list_directory(dir))
    if (entry.filename().string().rfind("seed-", 0) == 0 && fs::exists(RunDirectory(entry).state_file())) return true;
  return false;
}

bool same_command_resumes(const fs::path& dir, const std::string& config_yaml) {
  if (!holds_saved_run(dir)) return false;
  const fs::path stored_file = dir / "config.yaml";
  if (!fs::is_regular_file(stored_file))
    throw std::invalid_argument(fmt::format("{} holds a saved run but no config.yaml; choose another output_dir",
                                            dir.string()));
  const std::string stored_text = read_file(stored_file);
  if (stored_text == config_yaml) return true;
  auto stored = flat_config(stored_text, stored_file.string());
  auto now = flat_config(config_yaml, "the resolved options");
  // The folder is this one however its path was written (a --resume RUN rewrites config.yaml with RUN).
  stored.erase("output_dir");
  now.erase("output_dir");
  std::vector<std::string> differences;
  for (const auto& [key, value] : now) {
    const auto it = stored.find(key);
    if (it == stored.end()) {
      differences.push_back(fmt::format("{}: (absent) -> {}", key, value));
    } else if (it->second != value) {
      differences.push_back(fmt::format("{}: {} -> {}", key, it->second, value));
    }
  }
  for (const auto& [key, value] : stored)
    if (!now.count(key)) differences.push_back(fmt::format("{}: {} -> (absent)", key, value));
  if (differences.empty()) return true;  // the same options, written another way
  std::string list;
  for (const auto& d : differences) list += (list.empty() ? "" : "; ") + d;
  throw std::invalid_argument(fmt::format(
      "{} holds a saved run of other options, so this command cannot resume it (what differs from its config.yaml: "
      "{}); resume it with --resume {}, or choose another output_dir",
      dir.string(), list, dir.string()));
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
