#include "metrics/correlation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace electra::metrics {
namespace {

void check_sizes(const char* metric, size_t gold, size_t pred) {
  if (gold != pred)
    throw std::invalid_argument(fmt::format("{}: {} gold scores but {} predictions", metric, gold, pred));
  if (gold < 2) throw std::invalid_argument(fmt::format("{}: needs at least 2 examples, got {}", metric, gold));
}

}  // namespace

double pearson(const std::vector<double>& gold, const std::vector<double>& pred) {
  check_sizes("pearson", gold.size(), pred.size());
  const double n = static_cast<double>(gold.size());
  const double mean_g = std::accumulate(gold.begin(), gold.end(), 0.0) / n;
  const double mean_p = std::accumulate(pred.begin(), pred.end(), 0.0) / n;
  double cov = 0, var_g = 0, var_p = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    const double dg = gold[i] - mean_g, dp = pred[i] - mean_p;
    cov += dg * dp;
    var_g += dg * dg;
    var_p += dp * dp;
  }
  if (var_g == 0 || var_p == 0) return std::numeric_limits<double>::quiet_NaN();
  const double r = cov / std::sqrt(var_g * var_p);
  return 100.0 * std::clamp(r, -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double spearman(const std::vector<double>& gold, const std::vector<double>& pred) {
  check_sizes("spearman", gold.size(), pred.size());
  return pearson(average_ranks(gold), average_ranks(pred));
}

std::string undefined_metric_warning(const std::string& metric, const std::string& where) {
  return fmt::format("{} of {} is undefined (NaN): the predictions or the gold scores are constant", metric, where);
}

}  // namespace electra::metrics
