// Entity-level precision / recall / F1 (x100) as seqeval computes them in its default (CoNLL conlleval) mode,
// for prefix tags (`B-PER`) and suffix tags (`PER-B`, Naver NER), micro-averaged over entities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace electra::metrics {

enum class TagStyle { prefix, suffix };

struct Entity {
  std::string type;
  int64_t begin = 0, end = 0;  // inclusive word positions in the sequence
  bool operator==(const Entity& o) const { return type == o.type && begin == o.begin && end == o.end; }
  bool operator<(const Entity& o) const;
};

// seqeval get_entities: chunks of one tag sequence (an `I` after `O` or after another type starts a new one).
std::vector<Entity> get_entities(const std::vector<std::string>& tags, TagStyle style);

struct EntityScores {
  double precision = 0, recall = 0, f1 = 0;  // x100; 0 when undefined (0/0)
};

// Sentences are scored together; each gold sentence must have as many tags as its prediction
// (throws std::invalid_argument otherwise).
EntityScores entity_scores(const std::vector<std::vector<std::string>>& gold,
                           const std::vector<std::vector<std::string>>& pred, TagStyle style);

}  // namespace electra::metrics
