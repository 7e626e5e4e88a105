// Training progress for a person: a redrawn bar on a terminal, one plain line per logged step otherwise.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace electra {

class Progress {
 public:
  // Draws a bar only when `out` is std::cerr and standard error is a terminal.
  Progress(std::ostream& out, int64_t total_steps);
  // The state after `step`; a plain line is written only when `log_line` (the bar is redrawn every step).
  void update(int64_t step, double epoch, double loss, double lr, double examples_per_s, double elapsed,
              bool log_line);
  // A line of its own (evaluations, early stopping), clearing the bar first.
  void message(const std::string& text);
  // Ends the bar's line.
  void finish();

 private:
  std::ostream& out_;
  int64_t total_;
  bool tty_;
};

}  // namespace electra
