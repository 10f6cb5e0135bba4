# Take an offsite backup of db-01 now. Destroying this resource deletes the backup.
resource "hostup_vps_backup" "db_before_upgrade" {
  vps_id = "vps_01j9k2db000000000000000001" # db-01
  note   = "Before the 2026 upgrade"

  timeouts {
    create = "60m" # backups of large disks are slow
    delete = "10m"
  }
}

output "db_backup" {
  value = {
    id          = hostup_vps_backup.db_before_upgrade.id
    created_at  = hostup_vps_backup.db_before_upgrade.created_at
    size_gb     = hostup_vps_backup.db_before_upgrade.size_gb
    backup_type = hostup_vps_backup.db_before_upgrade.backup_type
  }
}
