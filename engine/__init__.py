"""The Qt-free engine: core types (core), the fast converter (convert) and the SD-πXL optimiser (sdpixl)."""
