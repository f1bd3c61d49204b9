// The Node addon: thin N-API bindings over the core. Runs inside the runtime worker process only, never in
// the extension host. Long-running calls run on worker threads (Napi::AsyncWorker) so the worker's event
// loop keeps answering pings and cancellations.
#include <napi.h>

#include <string>

#include "core/system_info.h"
#include "util/error.h"

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), hybrid::query_system().version);
}

// systemInfo(): the same JSON the CLI prints for `hybrid --version --json`, as a string (one serializer).
Napi::Value SystemInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), hybrid::system_info_json(hybrid::query_system()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("systemInfo", Napi::Function::New(env, SystemInfo, "systemInfo"));
  return exports;
}

}  // namespace

NODE_API_MODULE(hybrid_addon, Init)
