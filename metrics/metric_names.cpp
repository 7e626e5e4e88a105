#include "metrics/metric_names.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <stdexcept>

namespace electra::metrics {

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = {"accuracy",  "macro_f1", "mcc", "pearson",    "spearman",
                                                 "precision", "recall",   "f1",  "exact_match"};
  return names;
}

void check_metric_name(const std::string& name) {
  const auto& names = known_metrics();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw std::invalid_argument(fmt::format("unknown metric '{}' (known: {})", name, fmt::join(names, ", ")));
}

std::optional<MetricRange> metric_range(const std::string& name) {
  if (name == "mcc" || name == "pearson" || name == "spearman") return MetricRange{-100, 100};
  const auto& names = known_metrics();
  if (std::find(names.begin(), names.end(), name) != names.end()) return MetricRange{0, 100};
  return std::nullopt;
}

}  // namespace electra::metrics
