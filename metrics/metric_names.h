// The metric names tasks report and runs may select on (all x100, higher is better).
#pragma once

#include <string>
#include <vector>

namespace electra::metrics {

// accuracy, macro_f1, mcc, pearson, spearman, precision, recall, f1, exact_match.
const std::vector<std::string>& known_metrics();
// Throws std::invalid_argument naming the metric and listing the known ones.
void check_metric_name(const std::string& name);

}  // namespace electra::metrics
