{
  "targets": [
    {
      "target_name": "iicp_cx_native",
      "sources": ["src/cx_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
