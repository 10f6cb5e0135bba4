# Values for the hostup-sim example fixture (examples/sim/fixture.json): back up db-01 and restore
# that backup onto web-01. Replace them with your own VPS ids and names for a real HostUp account.
source_vps_id   = "vps_01j9k2db000000000000000001"
target_vps_id   = "vps_01j9k2web00000000000000001"
target_vps_name = "web-01"
