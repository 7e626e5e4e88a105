// bf16 autocast for CUDA forward passes, as `with torch.autocast("cuda", dtype=torch.bfloat16)`.
#pragma once

namespace electra {

// Turns CUDA bf16 autocast on for its lifetime when `on` (and clears the autocast cast cache when it ends).
class AutocastGuard {
 public:
  explicit AutocastGuard(bool on);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_;
};

}  // namespace electra
