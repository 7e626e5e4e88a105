// Sentences of pre-training text: one line split into trimmed sentences, and the blank-line test that ends a
// document in the "blank_line" format.
#pragma once

#include <string>
#include <vector>

namespace electra {

// Splits one line into sentences: after a run of terminators (. ! ? … 。 ！ ？, "재밌어요.." keeps both dots) and the
// closing quotes/brackets right after it, when whitespace follows. Sentences are trimmed; none is empty.
std::vector<std::string> split_sentences(const std::string& line);

// True when `line` is empty or holds only whitespace (ASCII, no-break space, ideographic space).
bool is_blank_line(const std::string& line);

}  // namespace electra
