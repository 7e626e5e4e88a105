// Numbers as people write them in configs, data and prediction files: decimal notation only. strtod and stod also
// take hexadecimal floats ("0x1p3"), "inf" and "nan", which no user means as a score, a label or a learning rate.
#pragma once

#include <optional>
#include <string_view>

namespace electra {

// The value of `text` when it is a finite decimal number: an optional sign, digits with an optional fraction (or a
// fraction alone, ".5"), an optional exponent ("1e-4", "3E+2"); no spaces, no hexadecimal, no inf/nan. nullopt
// otherwise.
std::optional<double> parse_decimal(std::string_view text);

}  // namespace electra
