#include "base/host_port.h"

#include <catch2/catch.hpp>

using sluice::parse_host_port;

TEST_CASE("host:port with IPv4, names and bracketed IPv6", "[base]") {
  auto v4 = parse_host_port("127.0.0.1:8080");
  REQUIRE(v4);
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8080);
  auto v6 = parse_host_port("[::1]:9000");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9000);
  CHECK(parse_host_port("localhost:1")->host == "localhost");
  CHECK(parse_host_port("[fe80::1%eth0]:1")->host == "fe80::1%eth0");
}

TEST_CASE("a default port only where there is none", "[base]") {
  CHECK(parse_host_port("example.com", 80)->port == 80);
  CHECK(parse_host_port("[::1]", 80)->port == 80);
  CHECK_FALSE(parse_host_port("example.com"));
}

TEST_CASE("bad host:port strings say what is wrong", "[base]") {
  CHECK_THAT(parse_host_port("::1:8080").error(), Catch::Contains("brackets"));
  CHECK_THAT(parse_host_port("[::1:8080").error(), Catch::Contains("']'"));
  CHECK_THAT(parse_host_port("[::1]8080").error(), Catch::Contains(":port"));
  CHECK_THAT(parse_host_port(":8080").error(), Catch::Contains("no host"));
  CHECK_THAT(parse_host_port("h:65536").error(), Catch::Contains("bad port"));
  CHECK_THAT(parse_host_port("h:").error(), Catch::Contains("bad port"));
  CHECK_THAT(parse_host_port("h:8x").error(), Catch::Contains("bad port"));
}
