#include "leaderboard/resampling.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "common/files.h"
#include "common/yaml_file.h"
#include "tasks/ner_task.h"
#include "tasks/scoring.h"
#include "tasks/text_file.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

bool agrees(const std::vector<double>& values, const std::vector<std::string>& names, const Metrics& reference) {
  for (size_t i = 0; i < names.size(); ++i) {
    const auto it = reference.find(names[i]);
    if (it == reference.end() || std::abs(it->second - values[i]) > 1e-9 * std::max(1.0, std::abs(it->second))) return false;
  }
  return true;
}

std::string describe(const std::vector<double>& values, const std::vector<std::string>& names, const Metrics& reference) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    const auto it = reference.find(names[i]);
    out += fmt::format("{}{} {} (task.score: {})", out.empty() ? "" : ", ", names[i], values[i],
                       it == reference.end() ? std::string("none") : fmt::format("{}", it->second));
  }
  return out;
}

std::string gold_list(const std::vector<fs::path>& files) {
  std::string out;
  for (const auto& f : files) out += (out.empty() ? "" : ", ") + f.string();
  return out;
}

}  // namespace

std::unique_ptr<metrics::ResampledMetrics> task_resampled_metrics(const Task& task, const std::vector<Example>& examples,
                                                                  const std::vector<std::optional<std::string>>& predictions) {
  if (examples.size() != predictions.size())
    throw std::runtime_error(fmt::format("{}: {} examples but {} predictions", task.name(), examples.size(), predictions.size()));
  std::vector<std::string> lines;
  for (const auto& p : predictions) lines.push_back(p.value_or(""));
  std::vector<std::unique_ptr<metrics::ResampledMetrics>> candidates;
  Metrics reference;
  std::vector<std::string> names;
  for (const auto& name : task.metric_names()) names.push_back(name);
  switch (task.head()) {
    case HeadKind::sequence_classification: {
      reference = task.score(examples, lines);  // validates the labels
      std::vector<std::string> gold, pred;
      for (size_t i = 0; i < examples.size(); ++i) {
        gold.push_back(examples[i].label);
        pred.push_back(trim_ascii(lines[i]));
      }
      candidates.push_back(metrics::label_metrics(gold, pred, names));
      break;
    }
    case HeadKind::regression: {
      reference = task.score(examples, lines);  // validates the numbers
      std::vector<double> gold, pred;
      for (size_t i = 0; i < examples.size(); ++i) {
        gold.push_back(examples[i].score);
        pred.push_back(std::strtod(trim_ascii(lines[i]).c_str(), nullptr));
      }
      candidates.push_back(metrics::correlation_metrics(gold, pred, names));
      break;
    }
    case HeadKind::token_classification: {
      reference = task.score(examples, lines);  // validates the tags
      std::vector<std::vector<std::string>> gold, pred;
      for (size_t i = 0; i < examples.size(); ++i) {
        auto tags = split_words(lines[i]);
        // A prediction cut short by truncation scores the words it covers, as NerTask::score does.
        gold.emplace_back(examples[i].tags.begin(), examples[i].tags.begin() + static_cast<std::ptrdiff_t>(tags.size()));
        pred.push_back(std::move(tags));
      }
      for (const auto style : {metrics::TagStyle::suffix, metrics::TagStyle::prefix})
        candidates.push_back(metrics::entity_metrics(gold, pred, style));
      break;
    }
    case HeadKind::span_extraction: {
      reference = task.score(examples, lines);
      std::vector<std::vector<std::string>> gold;
      for (const auto& ex : examples) {
        std::vector<std::string> texts;
        for (const auto& a : ex.answers) texts.push_back(a.text);
        gold.push_back(std::move(texts));
      }
      for (const auto rules : {metrics::QaRules::korquad, metrics::QaRules::squad})
        candidates.push_back(metrics::qa_metrics(gold, predictions, rules));
      break;
    }
  }
  std::string tried;
  for (auto& c : candidates) {
    const auto values = c->score(metrics::Counts(c->units(), 1));
    if (agrees(values, c->names(), reference)) return std::move(c);
    tried += (tried.empty() ? "" : "; ") + describe(values, c->names(), reference);
  }
  throw std::runtime_error(
      fmt::format("{}: the resampling form of the metrics disagrees with the task's scorer: {}", task.name(), tried));
}

RunPredictions load_run_predictions(const Task& task, const fs::path& results_file, const std::string& split) {
  const fs::path dir = results_file.parent_path();
  RunPredictions out;
  out.predictions_file = dir / fmt::format("predictions_{}.txt", split);
  if (!fs::exists(out.predictions_file))
    throw std::runtime_error(fmt::format("no {} beside {}", out.predictions_file.filename().string(), results_file.string()));
  const fs::path config = dir / "config.yaml";
  if (!fs::exists(config)) throw std::runtime_error(fmt::format("no config.yaml beside {}", results_file.string()));
  const YAML::Node root = load_yaml_file(config);
  const auto data = root["data"];
  if (!data || !data["data_dir"] || data["data_dir"].as<std::string>().empty())
    throw std::runtime_error(fmt::format("{}: key 'data.data_dir': missing or empty", config.string()));
  const fs::path data_dir = data["data_dir"].as<std::string>();
  ReadOptions read;
  read.skip_bad_rows = data["skip_bad_rows"] && data["skip_bad_rows"].as<bool>();
  const auto files = task.files();
  const auto split_it = files.find(parse_split(split));
  if (split_it == files.end()) throw std::runtime_error(fmt::format("task '{}' has no {} split", task.name(), split));
  std::vector<Example> examples;
  uint64_t digest = 1469598103934665603ULL;  // FNV-1a over the gold files' bytes
  for (const auto& name : split_it->second) {
    const fs::path file = data_dir / name;
    if (!fs::exists(file))
      throw std::runtime_error(fmt::format("{} (named by {}) does not exist", file.string(), config.string()));
    for (const unsigned char c : read_file(file)) digest = (digest ^ c) * 1099511628211ULL;
    auto r = task.read(file, read);
    std::move(r.examples.begin(), r.examples.end(), std::back_inserter(examples));
    out.gold_files.push_back(file);
  }
  out.gold_digest = fmt::format("{:016x}", digest);
  const auto lines = parse_prediction_lines(read_text_file(out.predictions_file), out.predictions_file);
  if (lines.size() != examples.size())
    throw std::runtime_error(fmt::format("{}: {} predictions, but the {} split ({}) has {} examples",
                                         out.predictions_file.string(), lines.size(), split,
                                         gold_list(out.gold_files), examples.size()));
  std::vector<std::optional<std::string>> predictions(lines.begin(), lines.end());
  try {
    out.metrics = task_resampled_metrics(task, examples, predictions);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", out.predictions_file.string(), e.what()));
  }
  return out;
}

}  // namespace electra
