# DESTRUCTIVE when invoked: stops web-01 and overwrites its disk with a backup of db-01.
# Declaring the action changes nothing; it runs only when invoked:
#
#   terraform apply -invoke=action.hostup_vps_restore.restore_web
#
# The plan shows what will be overwritten; the restore's progress is printed while it runs.
action "hostup_vps_restore" "restore_web" {
  config {
    target_vps_id = "vps_01j9k2web00000000000000001" # web-01, overwritten
    source_vps_id = "vps_01j9k2db000000000000000001" # db-01, read only
    backup_id     = "bkp_01j9k2db200000000000000001" # db-01's backup of 2026-04-27

    # Refused at plan time unless the target is really called web-01.
    confirm_target_name = "web-01"

    # How long to wait for HostUp's job (default 60m). The job keeps running after a timeout.
    timeout = "30m"
  }
}
