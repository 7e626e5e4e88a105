#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <memory>

namespace electra::unicode {
namespace {

struct ClassOverride {
  char32_t cp;
  uint8_t bits;  // 1 dropped, 2 whitespace, 4 CJK, 8 punctuation
};
struct LowerOverride {
  char32_t cp;
  char32_t lower;
};

#ifndef ELECTRA_UNICODE_UTF8PROC_ONLY
#include "tokenizer/unicode_tokenizers_table.inc"
#else  // tools/unicode/regenerate.sh: utf8proc's view alone, to compute the table
constexpr ClassOverride kClassOverrides[] = {{0x10FFFF + 1, 0}};
constexpr LowerOverride kLowerOverrides[] = {{0x10FFFF + 1, 0}};
constexpr char32_t kNotNonspacingMarks[] = {0x10FFFF + 1};
constexpr char32_t kExtraNonspacingMarks[] = {0x10FFFF + 1};
constexpr char32_t kNoDecomposition[] = {0x10FFFF + 1};
#endif

template <class T, size_t N>
const T* find_cp(const T (&table)[N], char32_t cp) {
  const T* it = std::lower_bound(std::begin(table), std::end(table), cp, [](const T& e, char32_t c) { return e.cp < c; });
  return it != std::end(table) && it->cp == cp ? it : nullptr;
}

template <size_t N>
bool listed(const char32_t (&table)[N], char32_t cp) {
  return std::binary_search(std::begin(table), std::end(table), cp);
}

// Nonspacing mark (Mn) as tokenizers' tables have it.
bool is_nonspacing_mark(char32_t cp) {
  if (listed(kExtraNonspacingMarks, cp)) return true;
  return cp >= 0x300 && utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_MN &&
         !listed(kNotNonspacingMarks, cp);
}

bool is_chinese_char(char32_t cp) {
  // The blocks as tokenizers' BertNormalizer lists them (its Extension E starts at U+2B920).
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

uint8_t compute_flags(char32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  const auto c = static_cast<utf8proc_int32_t>(cp);
  const utf8proc_property_t* prop = utf8proc_get_property(c);
  const auto cat = static_cast<utf8proc_category_t>(prop->category);
  const bool tab_newline_cr = cp == '\t' || cp == '\n' || cp == '\r';
  uint8_t f = 0;
  // tokenizers' is_control is `is_other` of the unicode_categories crate: Cc, Cf and Co.
  if (cp == 0 || cp == 0xFFFD ||
      (!tab_newline_cr &&
       (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO))) {
    f |= kDrop;
  }
  if (tab_newline_cr || cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP) {
    f |= kSpace;
  }
  if (is_chinese_char(cp)) f |= kChinese;
  if (is_ascii_punct(cp) || (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO)) f |= kPunct;
  utf8proc_int32_t buf[8];
  int boundclass = 0;
  const auto n = utf8proc_decompose_char(c, buf, 8, UTF8PROC_DECOMPOSE, &boundclass);
  if (n != 1 || buf[0] != c || prop->combining_class != 0 || cat == UTF8PROC_CATEGORY_MN) f |= kAccent;
  if (cp == 0x130 || utf8proc_tolower(c) != c) f |= kCased;
  // Where tokenizers' Unicode data differs from utf8proc's, tokenizers decides.
  if (const ClassOverride* o = find_cp(kClassOverrides, cp)) {
    f &= static_cast<uint8_t>(~(kDrop | kSpace | kChinese | kPunct));
    if (o->bits & 1) f |= kDrop;
    if (o->bits & 2) f |= kSpace;
    if (o->bits & 4) f |= kChinese;
    if (o->bits & 8) f |= kPunct;
  }
  if (find_cp(kLowerOverrides, cp)) f |= kCased;
  if (listed(kNotNonspacingMarks, cp) || listed(kExtraNonspacingMarks, cp) || listed(kNoDecomposition, cp)) {
    f |= kAccent;
  }
  return f;
}

std::unique_ptr<std::array<uint8_t, 0x10000>> build_bmp_table() {
  auto table = std::make_unique<std::array<uint8_t, 0x10000>>();
  for (char32_t cp = 0; cp < 0x10000; ++cp) (*table)[cp] = compute_flags(cp);
  return table;
}

struct Piece {
  char32_t cp;
  uint8_t ccc;
  bool inserted;  // a second or later piece of one decomposition
};

}  // namespace

const uint8_t* bmp_flags() {
  static const std::unique_ptr<std::array<uint8_t, 0x10000>> table = build_bmp_table();
  return table->data();
}

uint8_t astral_flags(char32_t cp) { return compute_flags(cp); }

void strip_accents(const std::vector<AlignedChar>& in, std::vector<AlignedChar>& out) {
  thread_local std::vector<Piece> pieces;
  pieces.clear();
  for (const AlignedChar& ch : in) {
    if (!(flags(ch.cp) & kAccent)) {
      pieces.push_back({ch.cp, 0, false});
      continue;
    }
    utf8proc_int32_t buf[16];
    int boundclass = 0;
    auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(ch.cp), buf, 16, UTF8PROC_DECOMPOSE, &boundclass);
    // n < 1 or n > 16 cannot happen for valid scalar values; a decomposition tokenizers does not know is skipped.
    if (n < 1 || n > 16 || listed(kNoDecomposition, ch.cp)) {
      buf[0] = static_cast<utf8proc_int32_t>(ch.cp);
      n = 1;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      // A mark tokenizers does not know (assigned after its tables) has combining class 0 there.
      const auto ccc = listed(kNotNonspacingMarks, static_cast<char32_t>(buf[k]))
                           ? uint8_t{0}
                           : static_cast<uint8_t>(utf8proc_get_property(buf[k])->combining_class);
      pieces.push_back({static_cast<char32_t>(buf[k]), ccc, k > 0});
    }
  }
  // Canonical ordering: a stable sort by combining class of every run of non-starters.
  for (size_t i = 0; i < pieces.size();) {
    if (pieces[i].ccc == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < pieces.size() && pieces[end].ccc != 0) ++end;
    for (size_t a = i + 1; a < end; ++a) {
      const Piece p = pieces[a];
      size_t b = a;
      while (b > i && pieces[b - 1].ccc > p.ccc) {
        pieces[b] = pieces[b - 1];
        --b;
      }
      pieces[b] = p;
    }
    i = end;
  }
  // Alignments are assigned by position: a replacing piece takes the next original character's alignment,
  // an inserted one repeats the previous alignment. Then nonspacing marks go.
  out.clear();
  size_t next = 0;
  uint32_t at = 0;
  for (const Piece& p : pieces) {
    if (!p.inserted && next < in.size()) at = in[next++].at;
    if (is_nonspacing_mark(p.cp)) continue;
    out.push_back({p.cp, at});
  }
}

void lowercase(const std::vector<AlignedChar>& in, std::vector<AlignedChar>& out) {
  out.clear();
  for (const AlignedChar& ch : in) {
    if (ch.cp < 0x80) {
      out.push_back({(ch.cp >= 'A' && ch.cp <= 'Z') ? ch.cp + 32 : ch.cp, ch.at});
    } else if (!(flags(ch.cp) & kCased)) {
      out.push_back(ch);
    } else if (ch.cp == 0x130) {  // the one unconditional multi-character lowercase mapping (SpecialCasing.txt)
      out.push_back({U'i', ch.at});
      out.push_back({0x307, ch.at});
    } else if (const LowerOverride* o = find_cp(kLowerOverrides, ch.cp)) {
      out.push_back({o->lower, ch.at});
    } else {
      out.push_back({static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(ch.cp))), ch.at});
    }
  }
}

}  // namespace electra::unicode
