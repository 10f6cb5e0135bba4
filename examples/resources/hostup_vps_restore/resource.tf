# DESTRUCTIVE: applying this stops web-01 and overwrites its disk with a backup of db-01.
# Everything written to web-01 since that backup was taken is lost.
resource "hostup_vps_restore" "web_from_db" {
  target_vps_id = "vps_01j9k2web00000000000000001" # web-01, overwritten
  source_vps_id = "vps_01j9k2db000000000000000001" # db-01, read only
  backup_id     = "bkp_01j9k2db200000000000000001" # db-01's backup of 2026-04-27

  # Refused at plan time unless the target is really called web-01.
  confirm_target_name = "web-01"

  # Change a value here to run the same restore again.
  triggers = {
    reason = "reset staging to the pre-upgrade database"
  }

  timeouts {
    create = "30m"
  }
}

output "restore_job" {
  value = {
    job_id       = hostup_vps_restore.web_from_db.job_id
    status       = hostup_vps_restore.web_from_db.status
    completed_at = hostup_vps_restore.web_from_db.completed_at
  }
}
