#include "metrics/entity.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace electra::metrics {
namespace {

struct Chunk {
  char tag;
  std::string type;
};

Chunk parse_tag(const std::string& t, TagStyle style) {
  if (t.empty()) return {'O', "_"};
  Chunk c;
  if (style == TagStyle::suffix) {
    c.tag = t.back();
    const std::string head = t.substr(0, t.size() - 1);  // "PER-" -> type before the last '-'
    const auto dash = head.rfind('-');
    c.type = dash == std::string::npos ? head : head.substr(0, dash);
  } else {
    c.tag = t.front();
    const std::string rest = t.substr(1);  // "-PER" -> type after the first '-'
    const auto dash = rest.find('-');
    c.type = dash == std::string::npos ? rest : rest.substr(dash + 1);
  }
  if (c.type.empty()) c.type = "_";
  return c;
}

bool end_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
  if (prev_tag == 'E' || prev_tag == 'S') return true;
  if ((prev_tag == 'B' || prev_tag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) return true;
  return prev_tag != 'O' && prev_tag != '.' && prev_type != type;
}

bool start_of_chunk(char prev_tag, char tag, const std::string& prev_type, const std::string& type) {
  if (tag == 'B' || tag == 'S') return true;
  if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') && (tag == 'E' || tag == 'I')) return true;
  return tag != 'O' && tag != '.' && prev_type != type;
}

}  // namespace

bool Entity::operator<(const Entity& o) const {
  return std::tie(begin, end, type) < std::tie(o.begin, o.end, o.type);
}

std::vector<Entity> get_entities(const std::vector<std::string>& tags, TagStyle style) {
  std::vector<Entity> chunks;
  char prev_tag = 'O';
  std::string prev_type;
  int64_t begin = 0;
  const int64_t n = static_cast<int64_t>(tags.size());
  for (int64_t i = 0; i <= n; ++i) {
    const Chunk c = i < n ? parse_tag(tags[static_cast<size_t>(i)], style) : Chunk{'O', "_"};
    if (end_of_chunk(prev_tag, c.tag, prev_type, c.type)) chunks.push_back({prev_type, begin, i - 1});
    if (start_of_chunk(prev_tag, c.tag, prev_type, c.type)) begin = i;
    prev_tag = c.tag;
    prev_type = c.type;
  }
  return chunks;
}

EntityScores entity_scores(const std::vector<std::vector<std::string>>& gold,
                           const std::vector<std::vector<std::string>>& pred, TagStyle style) {
  if (gold.size() != pred.size())
    throw std::invalid_argument(
        fmt::format("entity f1: {} gold sentences but {} predictions", gold.size(), pred.size()));
  // Like seqeval: one flat sequence with an `O` between sentences, entities compared as sets.
  std::vector<std::string> flat_gold, flat_pred;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i].size() != pred[i].size())
      throw std::invalid_argument(fmt::format("entity f1: sentence {} has {} gold tags but {} predicted", i + 1,
                                              gold[i].size(), pred[i].size()));
    flat_gold.insert(flat_gold.end(), gold[i].begin(), gold[i].end());
    flat_gold.emplace_back("O");
    flat_pred.insert(flat_pred.end(), pred[i].begin(), pred[i].end());
    flat_pred.emplace_back("O");
  }
  auto g = get_entities(flat_gold, style);
  auto p = get_entities(flat_pred, style);
  std::sort(g.begin(), g.end());
  std::sort(p.begin(), p.end());
  std::vector<Entity> common;
  std::set_intersection(g.begin(), g.end(), p.begin(), p.end(), std::back_inserter(common));
  EntityScores s;
  const double tp = static_cast<double>(common.size());
  s.precision = p.empty() ? 0.0 : tp / static_cast<double>(p.size());
  s.recall = g.empty() ? 0.0 : tp / static_cast<double>(g.size());
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  s.precision *= 100;
  s.recall *= 100;
  s.f1 *= 100;
  return s;
}

}  // namespace electra::metrics
