# The native addon for full TCP keepalive control (see native/lifeline_tcp.c for why).
# Built by scripts/build-native.mjs at install; loaded by src/transport/native.ts.
{
  "targets": [
    {
      "target_name": "lifeline_tcp",
      "sources": ["native/lifeline_tcp.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": { "WARNING_CFLAGS": ["-Wall", "-Wextra", "-Wno-unused-parameter"] }
    }
  ]
}
