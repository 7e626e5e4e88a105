#include "common/decimal.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace electra {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Advances `i` over a run of digits; true when there was at least one.
bool digits(std::string_view text, size_t& i) {
  const size_t start = i;
  while (i < text.size() && is_digit(text[i])) ++i;
  return i > start;
}

}  // namespace

std::optional<double> parse_decimal(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const bool whole = digits(text, i);
  bool fraction = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fraction = digits(text, i);
  }
  if (!whole && !fraction) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits(text, i)) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  const std::string copy(text);  // strtod needs a terminated string
  const double value = std::strtod(copy.c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;  // 1e999
  return value;
}

}  // namespace electra
