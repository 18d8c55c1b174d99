{
  "targets": [
    {
      "target_name": "iicp_aes_gcm",
      "sources": ["src/aes_gcm.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
