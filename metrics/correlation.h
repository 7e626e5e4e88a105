// Correlations of predicted and gold scores, in percent (x100), as scipy.stats computes them.
#pragma once

#include <string>
#include <vector>

namespace electra::metrics {

// Pearson's r x 100; NaN when either side is constant (undefined, as scipy, which also warns
// ConstantInputWarning: callers warn with undefined_metric_warning). Throws std::invalid_argument when the sizes
// differ or fewer than 2 values are given.
double pearson(const std::vector<double>& gold, const std::vector<double>& pred);
// Spearman's rho x 100: Pearson on ranks, ties get their average rank; NaN when either side is constant.
double spearman(const std::vector<double>& gold, const std::vector<double>& pred);
// 1-based ranks with ties averaged (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& values);

// The warning for a metric that came out NaN, naming it and `where` (a file, or a task and split): "spearman of
// korsts dev is undefined (NaN): the predictions or the gold scores are constant".
std::string undefined_metric_warning(const std::string& metric, const std::string& where);

}  // namespace electra::metrics
