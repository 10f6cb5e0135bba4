# Everything that can be restored onto web-01: other VPSes of the account with backups, and
# retained backups of terminated services.
data "hostup_vps_restore_sources" "web" {
  target_vps_id = "vps_01j9k2web00000000000000001"
}

locals {
  # The source named "db-01". one() fails if two sources share the name, and gives null if none has it.
  db_source = one([for s in data.hostup_vps_restore_sources.web.sources : s if s.name == "db-01"])

  # Backups are listed newest first, so the first one is the newest.
  newest_db_backup = local.db_source.backups[0]
}

output "newest_db_backup" {
  value = {
    source_vps_id = local.db_source.id
    backup_id     = local.newest_db_backup.id
    created_at    = local.newest_db_backup.created_at
    size_gb       = local.newest_db_backup.size_gb
  }
}
