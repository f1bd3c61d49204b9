// Error kinds shared by the core, the CLI and the addon.
#pragma once
#include <stdexcept>
#include <string>

namespace hybrid {

// Bad input from outside (a corrupt model file, an unknown architecture, bad arguments): the message is
// complete and meant for the user, e.g. "model.gguf: tensor blk.3.ssm_in.weight: data ends at byte …".
// The CLI prints it and exits with code 2; the addon throws it as a JS Error with code "EINPUT".
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& msg) : std::runtime_error(msg) {}
};

// Memory ran out for something the caller can do without or retry later (a checkpoint's snapshot, a GPU
// buffer): the message names what did not fit and how much was free. cuda::CudaOutOfMemory is one.
class OutOfMemory : public std::runtime_error {
 public:
  explicit OutOfMemory(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace hybrid
