#include <utf8proc.h>

#include <string>

#include "common/utf8.h"
#include "tests/catch.h"
#include "tokenizer/tokenizer.h"

namespace utf8 = electra::utf8;

TEST_CASE("utf8 encodes and decodes every scalar value as utf8proc does", "[utf8]") {
  size_t wrong = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string s = utf8::encode(cp);
    utf8proc_uint8_t expected[4];
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), expected);
    char32_t back = 0;
    if (s != std::string(reinterpret_cast<const char*>(expected), static_cast<size_t>(n)) ||
        utf8::decode(s, 0, back) != s.size() || back != cp || utf8::length(s) != 1) {
      ++wrong;
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("utf8 accepts exactly the sequences utf8proc accepts", "[utf8]") {
  // Every lead byte with every second byte, and 3- and 4-byte forms around each boundary of validity.
  size_t disagree = 0;
  auto compare = [&](const std::string& s) {
    char32_t cp = 0;
    const size_t ours = utf8::decode(s, 0, cp);
    utf8proc_int32_t theirs_cp = 0;
    const auto theirs = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                         static_cast<utf8proc_ssize_t>(s.size()), &theirs_cp);
    const bool same = theirs < 0 ? ours == 0 : ours == static_cast<size_t>(theirs) && cp == char32_t(theirs_cp);
    disagree += !same;
  };
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      compare({char(a), char(b)});
      for (const int c : {0x41, 0x80, 0xBF, 0xC0}) {
        compare({char(a), char(b), char(c)});
        for (const int d : {0x80, 0xBF, 0x41}) compare({char(a), char(b), char(c), char(d)});
      }
    }
  }
  CHECK(disagree == 0);
  SECTION("what is refused") {
    for (const std::string bad : {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf0\x80\x80\xaf",
                                  "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xe4\xb8", "\xe4\x41\x41"}) {
      char32_t cp = 0;
      CHECK(utf8::decode(bad, 0, cp) == 0);
      CHECK(utf8::find_invalid("ab" + bad + "c") == 2);
    }
    CHECK(utf8::find_invalid("a\xc3\xa9\xed\x95\x9c\xf0\x9f\x98\x80") == 10);
  }
}

TEST_CASE("utf8 counts and finds code points", "[utf8]") {
  const std::string text = "a\xc3\xa9\xed\x95\x9c\xf0\x9f\x98\x80";  // a é 한 😀
  CHECK(utf8::length(text) == 4);
  CHECK(utf8::offset(text, 0) == 0);
  CHECK(utf8::offset(text, 2) == 3);
  CHECK(utf8::offset(text, 3) == 6);
  CHECK(utf8::offset(text, 4) == text.size());
  CHECK(utf8::is_continuation(0x80));
  CHECK_FALSE(utf8::is_continuation(0xC3));
}

TEST_CASE("tokenizer names the byte of invalid UTF-8 next to a special token", "[utf8][tokenizer]") {
  const electra::Tokenizer tokenizer({{"[UNK]", 0}, {"[CLS]", 1}, {"[SEP]", 2}, {"a", 3}}, electra::TokenizerOptions());
  CHECK_THROWS_WITH(tokenizer.tokenize("a\xe4[CLS]b"), "invalid UTF-8 at byte 1 of the text");
  CHECK_THROWS_WITH(tokenizer.tokenize("[SEP]\xe4\xb8[CLS]"), "invalid UTF-8 at byte 5 of the text");
  const auto tokens = tokenizer.tokenize("\xc3\xa9[SEP]a");  // é [SEP] a: offsets count code points
  REQUIRE(tokens.size() == 3);
  CHECK(tokens[1].text == "[SEP]");
  CHECK(tokens[1].begin == 1);
  CHECK(tokens[2].begin == 6);
}
