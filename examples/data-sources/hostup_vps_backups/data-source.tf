# The backups of db-01, newest first.
data "hostup_vps_backups" "db" {
  vps_id = "vps_01j9k2db000000000000000001"
}

output "db_backup_ids" {
  value = [for b in data.hostup_vps_backups.db.backups : b.id]
}

output "db_manual_backups" {
  value = [for b in data.hostup_vps_backups.db.backups : b if b.backup_type == "manual"]
}
