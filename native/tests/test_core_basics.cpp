#include "check.h"
#include "core/system_info.h"
#include "util/json.h"

TEST("json writer escapes control characters and invalid UTF-8") {
  hybrid::JsonWriter w;
  w.begin_object().field("a", std::string("x\"\n\x01\xff\xc3\xa9")).field("n", 3).key("arr").begin_array();
  w.value(1.5).value(true).null().end_array().end_object();
  CHECK_EQ(w.str(), std::string("{\"a\":\"x\\\"\\n\\u0001\\ufffd\xc3\xa9\",\"n\":3,\"arr\":[1.5,true,null]}"));
}

TEST("system info reports cores, arch and a CUDA status") {
  hybrid::SystemInfo s = hybrid::query_system();
  CHECK(s.cpu.logical_cores >= 1);
  CHECK(!s.cpu.arch.empty());
  CHECK(!s.version.empty());
  CHECK(!s.cuda.status.empty());
  std::string j = hybrid::system_info_json(s);
  CHECK(j.find("\"cuda\":{") != std::string::npos);
  CHECK(j.find("\"features\":[") != std::string::npos);
}

TEST_MAIN()
