// Classification scores over label strings, in percent (x100), with scikit-learn's semantics.
#pragma once

#include <string>
#include <vector>

namespace electra::metrics {

// correct / total x 100. Throws std::invalid_argument when the sizes differ or are 0.
double accuracy(const std::vector<std::string>& gold, const std::vector<std::string>& pred);
// sklearn f1_score(average="macro"): unweighted mean of per-class F1 over the classes present in gold or
// prediction; 0/0 counts as 0.
double macro_f1(const std::vector<std::string>& gold, const std::vector<std::string>& pred);
// sklearn matthews_corrcoef (multiclass form); 0 when the denominator is 0.
double matthews_corrcoef(const std::vector<std::string>& gold, const std::vector<std::string>& pred);

}  // namespace electra::metrics
