#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace electra {

Progress::Progress(std::ostream& out, int64_t total_steps)
    : out_(out), total_(total_steps), tty_(&out == &std::cerr && isatty(fileno(stderr))) {}

void Progress::update(int64_t step, double epoch, double loss, double lr, double examples_per_s, double elapsed,
                      bool log_line) {
  const double eta = step > 0 ? elapsed / step * static_cast<double>(total_ - step) : 0.0;
  const std::string text = fmt::format("step {}/{} epoch {:.2f} loss {:.4f} lr {:.3e} {:.1f} ex/s ETA {:.0f}s", step,
                                       total_, epoch, loss, lr, examples_per_s, eta);
  if (tty_) {
    const int width = 30;
    const int filled = total_ > 0 ? static_cast<int>(width * step / total_) : width;
    out_ << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << text << "\x1b[K"
         << std::flush;
  } else if (log_line) {
    out_ << text << "\n" << std::flush;
  }
}

void Progress::message(const std::string& text) {
  if (tty_) out_ << "\r\x1b[K";
  out_ << text << "\n" << std::flush;
}

void Progress::finish() {
  if (tty_) out_ << "\n";
}

}  // namespace electra
