#!/usr/bin/env bash
# Downloads (here, on Debian 12) the .debs that tools/gpu/device_check.sh unpacks on the GPU machine, into .deps-debs
# (ignored by git; name it in the device call's `carry`): utf8proc, the libcurl and libarchive headers, and the
# runtime libraries they need. device_check.sh uses the machine's own copy of each library where it has one.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .deps-debs
cd .deps-debs
apt-get download libutf8proc-dev libutf8proc2 libcurl4-openssl-dev libcurl4 libarchive-dev libarchive13 \
  libnghttp2-14 librtmp1 libssh2-1 libpsl5 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libbrotli1 libidn2-0 \
  libunistring2 libxml2 libicu72 libacl1 libb2-1 liblz4-1 liblzma5 libzstd1 libnettle8 libhogweed6 libgnutls30 \
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2 libp11-kit0 libtasn1-6 libffi8 \
  libgmp10 libssl3
du -sh .
