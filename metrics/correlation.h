// Correlations of predicted and gold scores, in percent (x100), as scipy.stats computes them.
#pragma once

#include <vector>

namespace electra::metrics {

// Pearson's r x 100; 0 when either side is constant (scipy gives NaN there, which JSON cannot hold).
// Throws std::invalid_argument when the sizes differ or fewer than 2 values are given.
double pearson(const std::vector<double>& gold, const std::vector<double>& pred);
// Spearman's rho x 100: Pearson on ranks, ties get their average rank.
double spearman(const std::vector<double>& gold, const std::vector<double>& pred);
// 1-based ranks with ties averaged (scipy.stats.rankdata "average").
std::vector<double> average_ranks(const std::vector<double>& values);

}  // namespace electra::metrics
