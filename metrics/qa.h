// Extractive QA scores (x100) as the official evaluation scripts compute them: KorQuAD 1.0 (`evaluate_v1_0.py`,
// character F1) and SQuAD 1.1 (`evaluate-v1.1.py`, word F1 with articles removed).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace electra::metrics {

enum class QaRules { korquad, squad };

// The official normalisation. Throws std::invalid_argument on invalid UTF-8.
std::string normalize_answer(std::string_view text, QaRules rules);
// 1 when the normalised strings are equal, else 0.
double answer_exact_match(std::string_view prediction, std::string_view gold, QaRules rules);
// F1 in [0, 1] over the multiset intersection of characters (KorQuAD) or words (SQuAD).
double answer_f1(std::string_view prediction, std::string_view gold, QaRules rules);

struct QaScores {
  double exact_match = 0, f1 = 0;  // x100
};

// Max over each question's gold answers, mean over questions. A question without a prediction scores 0.
QaScores qa_scores(const std::vector<std::vector<std::string>>& gold_answers,
                   const std::vector<std::optional<std::string>>& predictions, QaRules rules);

}  // namespace electra::metrics
