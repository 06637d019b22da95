# Systemd-capable EL test image (CentOS Stream, Rocky, Alma), built in CI where
# registries are reachable: tests/images/build-ci.sh DISTRO
ARG BASE=quay.io/centos/centos:stream9
FROM ${BASE}
ENV container=docker
# What a fresh EL VPS has: systemd, sshd, python3, sudo, cron.
RUN dnf -y install systemd openssh-server python3 sudo procps-ng iproute cronie hostname \
 && dnf clean all \
 && systemctl enable sshd \
 && for u in systemd-udevd.service systemd-udev-trigger.service getty@tty1.service \
             systemd-firstboot.service systemd-remount-fs.service; do \
      ln -sf /dev/null /etc/systemd/system/$u; done
STOPSIGNAL SIGRTMIN+3
CMD ["/usr/sbin/init"]
