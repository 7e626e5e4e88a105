// electra's side of tools/unicode/tokenizers_reference.py: the same line format from tokenizer/unicode.cpp.
// Built by tools/unicode/regenerate.sh twice: with the tokenizers table (to check it) and without (to make it).
#include <cstdio>
#include <string>
#include <vector>

#include "tokenizer/unicode.h"

using namespace electra::unicode;

namespace {

std::string hex(const std::vector<AlignedChar>& v) {
  std::string s;
  char b[16];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(b, sizeof b, "%s%x", i ? " " : "", static_cast<unsigned>(v[i].cp));
    s += b;
  }
  return s;
}

}  // namespace

int main() {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const uint8_t f = flags(cp);
    int bits = 0;
    if (f & kDrop) {
      bits |= 1;
    } else if (f & kSpace) {
      bits |= 2;
    }
    if (f & kChinese) bits |= 4;
    if (!(bits & 3) && is_punct(cp)) bits |= 8;
    const std::vector<AlignedChar> in{{cp, 0}};
    std::vector<AlignedChar> lowered, stripped;
    lowercase(in, lowered);
    strip_accents(in, stripped);
    const bool lower_changed = !(lowered.size() == 1 && lowered[0].cp == cp);
    const bool strip_changed = !(stripped.size() == 1 && stripped[0].cp == cp);
    if (bits || lower_changed || strip_changed) {
      std::printf("%x\t%d\t%s\t%s\n", static_cast<unsigned>(cp), bits, lower_changed ? hex(lowered).c_str() : "",
                  strip_changed ? hex(stripped).c_str() : "=");
    }
  }
}
