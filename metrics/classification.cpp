#include "metrics/classification.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <stdexcept>

namespace electra::metrics {
namespace {

void check_sizes(const char* metric, size_t gold, size_t pred) {
  if (gold != pred)
    throw std::invalid_argument(fmt::format("{}: {} gold labels but {} predictions", metric, gold, pred));
  if (gold == 0) throw std::invalid_argument(fmt::format("{}: no examples to score", metric));
}

}  // namespace

double accuracy(const std::vector<std::string>& gold, const std::vector<std::string>& pred) {
  check_sizes("accuracy", gold.size(), pred.size());
  size_t correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) correct += gold[i] == pred[i];
  return 100.0 * static_cast<double>(correct) / static_cast<double>(gold.size());
}

double macro_f1(const std::vector<std::string>& gold, const std::vector<std::string>& pred) {
  check_sizes("macro_f1", gold.size(), pred.size());
  struct Counts {
    double tp = 0, fp = 0, fn = 0;
  };
  std::map<std::string, Counts> classes;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i] == pred[i]) {
      classes[gold[i]].tp += 1;
    } else {
      classes[gold[i]].fn += 1;
      classes[pred[i]].fp += 1;
    }
  }
  double sum = 0;
  for (const auto& [label, c] : classes) {
    const double precision = c.tp + c.fp > 0 ? c.tp / (c.tp + c.fp) : 0.0;
    const double recall = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0.0;
    sum += precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  }
  return 100.0 * sum / static_cast<double>(classes.size());
}

double matthews_corrcoef(const std::vector<std::string>& gold, const std::vector<std::string>& pred) {
  check_sizes("mcc", gold.size(), pred.size());
  std::map<std::string, double> true_count, pred_count;
  double correct = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    true_count[gold[i]] += 1;
    pred_count[pred[i]] += 1;
    correct += gold[i] == pred[i];
  }
  const double n = static_cast<double>(gold.size());
  double t_dot_p = 0, p_dot_p = 0, t_dot_t = 0;
  for (const auto& [label, t] : true_count) {
    t_dot_t += t * t;
    const auto it = pred_count.find(label);
    if (it != pred_count.end()) t_dot_p += t * it->second;
  }
  for (const auto& [label, p] : pred_count) p_dot_p += p * p;
  const double cov_tp = correct * n - t_dot_p;
  const double cov_pp = n * n - p_dot_p;
  const double cov_tt = n * n - t_dot_t;
  if (cov_pp * cov_tt == 0) return 0.0;
  return 100.0 * cov_tp / std::sqrt(cov_tt * cov_pp);
}

}  // namespace electra::metrics
