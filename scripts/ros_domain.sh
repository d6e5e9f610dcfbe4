# Sourced by scripts/test.sh and scripts/demo.sh: reserve a free ROS domain id.
# The lock files in the temp directory are shared with mobilenetv1_ros/loopback.py; the lock is
# held on file descriptor 8 by the sourcing shell until it exits.

# pick_domain_id: set DOMAIN_ID to a domain in 1..100 that no other run of ours holds.
pick_domain_id() {
    local start=$(($$ % 100)) i id
    for i in $(seq 0 99); do
        id=$(((start + i) % 100 + 1))
        exec 8> "${TMPDIR:-/tmp}/mobilenetv1_ros-ros-domain-$id.lock"
        if flock -n 8; then
            DOMAIN_ID="$id"
            return 0
        fi
        exec 8>&-
    done
    echo 'no free ROS_DOMAIN_ID in 1..100' >&2
    return 1
}
