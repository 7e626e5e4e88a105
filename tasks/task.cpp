#include "tasks/task.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "metrics/correlation.h"

namespace electra {
namespace {

std::vector<std::unique_ptr<Task>>& registry() {
  static std::vector<std::unique_ptr<Task>> tasks;
  return tasks;
}

std::string canonical(const std::string& name) {
  std::string out;
  for (const char c : name) out.push_back(c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

std::string to_string(HeadKind kind) {
  switch (kind) {
    case HeadKind::sequence_classification: return "sequence_classification";
    case HeadKind::regression: return "regression";
    case HeadKind::token_classification: return "token_classification";
    case HeadKind::span_extraction: return "span_extraction";
  }
  throw std::invalid_argument("unknown head kind");
}

HeadKind parse_head_kind(const std::string& name) {
  for (const auto kind : {HeadKind::sequence_classification, HeadKind::regression, HeadKind::token_classification,
                          HeadKind::span_extraction})
    if (to_string(kind) == name) return kind;
  throw std::invalid_argument(fmt::format(
      "unknown head '{}' (known: sequence_classification, regression, token_classification, span_extraction)", name));
}

std::string to_string(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::dev: return "dev";
    case Split::test: return "test";
  }
  throw std::invalid_argument("unknown split");
}

Split parse_split(const std::string& name) {
  for (const auto split : {Split::train, Split::dev, Split::test})
    if (to_string(split) == name) return split;
  throw std::invalid_argument(fmt::format("unknown split '{}' (known: train, dev, test)", name));
}

void register_task(std::unique_ptr<Task> task) {
  auto& tasks = registry();
  const std::string name = task->name();
  if (std::any_of(tasks.begin(), tasks.end(), [&](const auto& t) { return t->name() == name; }))
    throw std::invalid_argument(fmt::format("task '{}' is already registered", name));
  tasks.push_back(std::move(task));
}

const Task& find_task(const std::string& name) {
  register_builtin_tasks();
  const std::string wanted = canonical(name);
  for (const auto& t : registry())
    if (t->name() == wanted) return *t;
  throw std::invalid_argument(fmt::format("unknown task '{}' (known: {})", name, fmt::join(task_names(), ", ")));
}

std::vector<std::string> task_names() {
  register_builtin_tasks();
  std::vector<std::string> names;
  for (const auto& t : registry()) names.push_back(t->name());
  return names;
}

std::vector<std::string> undefined_metric_warnings(const Metrics& metrics, const std::string& where) {
  std::vector<std::string> out;
  for (const auto& [name, value] : metrics)
    if (name != "main" && std::isnan(value)) out.push_back(metrics::undefined_metric_warning(name, where));
  return out;
}

}  // namespace electra
