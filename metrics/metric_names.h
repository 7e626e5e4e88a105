// The metric names tasks report and runs may select on (all x100, higher is better).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace electra::metrics {

// accuracy, macro_f1, mcc, pearson, spearman, precision, recall, f1, exact_match.
const std::vector<std::string>& known_metrics();
// Throws std::invalid_argument naming the metric and listing the known ones.
void check_metric_name(const std::string& name);

// The values a known metric can take, x100: [0, 100] for the rates and F1s, [-100, 100] for mcc and the correlations.
struct MetricRange {
  double low, high;
};
// The range of a known metric; nullopt for another name.
std::optional<MetricRange> metric_range(const std::string& name);

}  // namespace electra::metrics
