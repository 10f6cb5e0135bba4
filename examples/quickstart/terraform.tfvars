# Values for the hostup-sim example fixture (examples/sim/fixture.json): restore the newest backup
# of db-01 onto web-01. Replace them with your own VPS ids and names for a real HostUp account.
target_vps_id   = "vps_01j9k2web00000000000000001"
target_vps_name = "web-01"
source_vps_name = "db-01"

# Start web-01 again after the restore and wait until it runs (the key needs the scope power:vm).
# start_after_restore = true
