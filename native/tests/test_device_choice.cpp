// The device a loaded model runs on (addon/generation.h, choose_device): "cpu" always means the CPU engine;
// "auto" and "cuda" take CUDA device 0 when it is usable and otherwise fall back to the CPU, saying why. On
// a machine without a GPU (CI) this checks the fallback and its message; on a GPU machine, the CUDA side.
#include <atomic>
#include <cstdio>
#include <string>

#include "../addon/generation.h"
#include "check.h"
#include "model_fixture.h"

using namespace hybrid;

namespace {
std::shared_ptr<addon::LoadedModel> load(const std::string& path, const std::string& device) {
  addon::LoadOptions o;
  o.threads = 1;
  o.max_batch = 16;
  o.cuda_max_batch = 16;
  o.device = device;
  return addon::load_model(path, o, [](const addon::LoadProgress&) {});
}
}  // namespace

TEST("device \"cpu\" runs on the CPU engine; \"auto\" and \"cuda\" use CUDA when usable, else fall back with the reason") {
  fixture::TinyModel tm;
  fixture::TempFile file(tm.write("device"));
  std::string why;
  const bool usable = cuda::cuda_usable(0, &why);
  std::printf("  CUDA usable: %s%s%s\n", usable ? "yes" : "no", usable ? "" : " — ", usable ? "" : why.c_str());
  auto cpu = load(file.path, "cpu");
  CHECK(cpu->device == "cpu");
  CHECK(cpu->engine != nullptr);
  CHECK(cpu->cuda == nullptr);
  CHECK(cpu->device_reason == "the device setting is \"cpu\"");
  for (const char* asked : {"auto", "cuda"}) {
    auto lm = load(file.path, asked);
    const std::string info = addon::model_info_json(*lm);
    std::printf("  %s -> %s: %s\n", asked, lm->device.c_str(), lm->device_reason.c_str());
    CHECK(lm->device_requested == asked);
    CHECK(info.find(std::string("\"requested\":\"") + asked + "\"") != std::string::npos);
    if (usable) {
      CHECK(lm->device == "cuda");
      CHECK(lm->cuda != nullptr);
      CHECK(lm->engine == nullptr);
      CHECK(lm->device_reason.find("holds the weights") != std::string::npos);
      CHECK(lm->state_budget_bytes > 0);
    } else {
      CHECK(lm->device == "cpu");
      CHECK(lm->engine != nullptr);
      CHECK(lm->device_reason == "falling back to the CPU: " + why);
      CHECK(info.find("\"using\":\"cpu\"") != std::string::npos);
    }
    // Either way a document session generates.
    addon::GenerateRequest req;
    addon::PromptPart p;
    p.is_tokens = true;
    for (int i = 0; i < 40; ++i) p.tokens.push_back((i * 5 + 1) % static_cast<int>(tm.V));
    req.prompt.push_back(p);
    req.session = std::make_shared<addon::DocSession>();
    req.session->n_ctx = 256;
    req.max_tokens = 4;
    req.stop_at_eog = false;
    std::atomic<bool> cancel{false};
    int chunks = 0;
    std::lock_guard<std::mutex> lock(lm->compute);
    auto r = addon::generate(*lm, req, cancel, [&](const addon::Chunk&) { ++chunks; });
    CHECK_EQ(r.generated_tokens, int64_t{4});
    CHECK_EQ(chunks, 4);
    CHECK(std::string(req.session->session->device()) == lm->device);
  }
}

TEST_MAIN()
