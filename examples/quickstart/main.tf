# Quickstart: restore the newest backup of one VPS onto another VPS of the same HostUp client.
#
# DESTRUCTIVE: applying this stops the target VPS and replaces its whole disk with the backup.
# The plan shows a warning naming the target, the backup and its source; read it before you apply.

terraform {
  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

# The API key and endpoint come from HOSTUP_API_KEY and HOSTUP_ENDPOINT.
provider "hostup" {}

variable "target_vps_id" {
  description = "ID of the VPS whose disk is replaced (vps_...)."
  type        = string
}

variable "target_vps_name" {
  description = "The target's current name: the restore is refused at plan time if it differs."
  type        = string
}

variable "source_vps_name" {
  description = "Name of the VPS (or retained terminated service) whose newest backup is restored."
  type        = string
}

variable "start_after_restore" {
  description = "Start the target again after the restore and wait until it runs (API key scope power:vm)."
  type        = bool
  default     = false
}

# Everything that can be restored onto the target, newest backup first.
data "hostup_vps_restore_sources" "target" {
  target_vps_id = var.target_vps_id
}

locals {
  source = one([
    for s in data.hostup_vps_restore_sources.target.sources : s if s.name == var.source_vps_name
  ])
  newest_backup = local.source.backups[0]
}

resource "hostup_vps_restore" "this" {
  target_vps_id       = var.target_vps_id
  source_vps_id       = local.source.id
  backup_id           = local.newest_backup.id
  confirm_target_name = var.target_vps_name
  start_after_restore = var.start_after_restore

  timeouts {
    create = "30m"
  }
}

output "restore" {
  value = {
    job_id            = hostup_vps_restore.this.job_id
    status            = hostup_vps_restore.this.status
    target            = "${hostup_vps_restore.this.target_name} (${hostup_vps_restore.this.target_vps_id})"
    backup            = hostup_vps_restore.this.backup_id
    backup_created_at = hostup_vps_restore.this.backup_created_at
    backup_size_gb    = hostup_vps_restore.this.backup_size_gb
    source_type       = hostup_vps_restore.this.source_type
    power_state       = hostup_vps_restore.this.power_state
  }
}
